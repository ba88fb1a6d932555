"""Report building and rendering: analyses in, self-contained HTML and PDF documents out.

Pipeline (DESIGN.md §2): ``context`` computes every analysis once per run and passes every
table through disclosure control; ``figures`` draws the plotnine figures; ``documents``
fills the jinja2 templates of ``templates/`` into Quarto ``.qmd`` sources; ``render``
turns them into HTML and PDF with Quarto, or with pandoc and typst when Quarto is absent.
"""
