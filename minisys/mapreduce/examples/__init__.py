"""The paper's example jobs (§2.3), runnable with ``minisys mapreduce run minisys.mapreduce.examples.NAME:Class``."""
