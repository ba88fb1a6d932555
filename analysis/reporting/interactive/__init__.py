"""The interactive report: one self-contained offline HTML file per region and one national."""
