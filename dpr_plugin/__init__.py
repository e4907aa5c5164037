"""dpr_plugin: a promptable retrieval stage (DPR, arXiv 2602.18929)."""

__version__ = "0.1.0"
