"""Video and image I/O: the only modules that know about PyAV and image files.

``decode`` reads videos (probe + threaded frame iterator), ``encode`` writes them (exact
timestamps, audio/subtitle stream copy), ``output`` makes outputs appear atomically, and
``images`` handles image sequences.
"""
