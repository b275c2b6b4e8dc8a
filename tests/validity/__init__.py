"""Validity: the metrics recover known structure (LFR benchmark, the 2004 political
blogosphere, a planted bridge)."""
