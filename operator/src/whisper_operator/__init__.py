"""whisper-operator: reconciles WhisperPool and TranscriptionJob (group whisperprod.io)."""

GROUP = "whisperprod.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
__version__ = "0.1.0"
