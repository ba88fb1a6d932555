"""Report building and rendering: analyses in, self-contained HTML and PDF documents out.

Pipeline (DESIGN.md §2): ``analyses`` computes every analysis once per run; ``run`` passes
every table through disclosure control once; ``tables`` and ``figure_specs`` select and
format the protected rows; ``sections`` arranges them by topic and ``documents`` into the
regional report, the subregistry report and the annual publication; ``qmd`` fills the
jinja2 templates of ``templates/`` into Quarto ``.qmd`` sources and ``figures`` draws the
plotnine figures; ``render`` turns them into HTML and PDF with Quarto, or with pandoc and
typst when Quarto is absent; ``publish`` runs it all.
"""
