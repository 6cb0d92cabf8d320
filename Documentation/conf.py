# Sphinx configuration of pcopy's documentation: "make htmldocs" builds
# the HTML pages, "make man" the manual pages pcopy(8) and pcopy.ko(4)
# from the same rst (agent.rst and abi.rst), so there is one source.
project = "pcopy"
author = "the pcopy developers"
copyright = "2026, " + author
release = "0.2.0"

master_doc = "index"
exclude_patterns = []
highlight_language = "none"
html_theme = "alabaster"

man_pages = [
    ("man-pcopy", "pcopy",
     "control pcopy.ko, observe postcopy userfaults, migrate guest memory",
     [author], 8),
    ("abi", "pcopy.ko",
     "userfault timing and KVM dirty harvest module: parameters, netlink, debugfs, record ring",
     [author], 4),
]
man_show_urls = False
