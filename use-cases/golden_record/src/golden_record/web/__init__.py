"""Web pages of the project: the clerical review page (``golden-record review``, ``make review``)."""
