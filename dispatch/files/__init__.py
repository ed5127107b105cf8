"""Input and output: the record shapes and their field readers, the CSV/JSON importers, the
plan and problem files, GeoJSON, and the GCJ-02 coordinate conversion of imported points."""
