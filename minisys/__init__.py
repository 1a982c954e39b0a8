"""minisys: small, faithful implementations of landmark systems papers.

MapReduce (OSDI 2004), Dynamo (SOSP 2007), Dremel (VLDB 2010) and a Kafka-style
log (NetDB 2011), each run side by side with the system a practitioner would
pick instead (SQLite, Postgres, DuckDB, Kafka, Spark) in *scenarios*, plus a
property-based consistency-testing toolkit.
"""

__version__ = "0.1.0"
