"""Image-model playground: FLUX.2, FLUX.1 Kontext, Seedream/SeedEdit and SDXL, local and hosted."""

__version__ = "0.1.0"
