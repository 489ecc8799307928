"""pytest: the Flower integration's doctests need the flower extra; skip them without it."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("flwr") else ["flower.py"]
