"""Loading and validating pipeline config files."""
from .errors import ConfigError, ConfigValidationError
from .loader import LoadedPipeline, configs_dir, discover, load_all, load_pipeline

__all__ = ["ConfigError", "ConfigValidationError", "LoadedPipeline", "configs_dir", "discover", "load_all", "load_pipeline"]
