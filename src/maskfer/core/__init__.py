"""Shared machinery below every stage: reading and encoding images, atomic files, the content-keyed
cache with its one chunked loop (`cached_map`), and where work runs (local processes or Dask).

Nothing here imports a stage; every stage may import this. Import the module you need
(`maskfer.core.cache`, ...): this file imports nothing, so the prediction path stays light.
"""
