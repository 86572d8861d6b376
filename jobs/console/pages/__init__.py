"""One module per page of the console; each exposes its ``routes``."""
