"""Everything a defender fits: robust means, purifiers and robust classifiers."""
