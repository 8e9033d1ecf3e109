from typing import Literal

ReconstructAlign = Literal['auto', 'centre', 'face']

RECONSTRUCT_ALIGN_VALUES: set[ReconstructAlign] = { 'auto', 'centre', 'face',  }

def check_reconstruct_align(value: str) -> ReconstructAlign:
    if value in RECONSTRUCT_ALIGN_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {RECONSTRUCT_ALIGN_VALUES!r}")
