"""Rendering shared by every track: notebook pages (:mod:`.notebooks`), the figure theme
(:mod:`.theme`), LaTeX tables (:mod:`.latex`) and the configuration reference (:mod:`.config_docs`).
The landing page, which reads every track's tables, stands above the tracks in :mod:`stelab.landing`.
"""
