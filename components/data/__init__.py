"""Dataset sources, deterministic materialisation, the manifest and tensor loading."""

from components.data.loading import MODEL_IMAGE_SIZE, load_images, load_labels, read_pixels, to_tensor
from components.data.manifest import MANIFEST_NAME, Sample, is_safe_id, read_manifest, sha256_file, verify_files
from components.data.materialise import DataConfig, MaterialiseResult, materialise
from components.data.sources import INSTALL_HINT, RawDataset, load_source

__all__ = [
    "DataConfig",
    "INSTALL_HINT",
    "MANIFEST_NAME",
    "MODEL_IMAGE_SIZE",
    "MaterialiseResult",
    "RawDataset",
    "Sample",
    "is_safe_id",
    "load_images",
    "load_labels",
    "load_source",
    "materialise",
    "read_manifest",
    "read_pixels",
    "sha256_file",
    "to_tensor",
    "verify_files",
]
