"""The service under test: the article's FastAPI + motor `/records` endpoint, made honest."""
