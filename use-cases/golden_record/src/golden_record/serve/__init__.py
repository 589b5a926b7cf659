"""The lookup service: incoming records in, candidate golden ids with probability and per-comparison
explanation out (``golden-record serve``; README: Looking up a record).

* :mod:`.lookup`: the engine (block index -> candidate records -> the shared scoring path ->
  golden ids), usable without HTTP;
* :mod:`.app`: the FastAPI app (``GET /health``, ``POST /match``);
* :mod:`.main`: the command (model loaded once, uvicorn on 127.0.0.1).
"""
