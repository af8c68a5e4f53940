"""Sphinx configuration for the voms-auth documentation."""

project = 'voms-auth'
copyright = 'voms-auth developers'  # noqa: A001 - Sphinx setting name
extensions = []
exclude_patterns = ['_build']
html_theme = 'alabaster'
highlight_language = 'none'
