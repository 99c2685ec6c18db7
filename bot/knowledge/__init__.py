"""Knowledge engine: ingestion, chunking, hybrid (e5 + BM25) index and search over the
municipality's web content. The Python API is `bot.knowledge.search.Searcher`."""
