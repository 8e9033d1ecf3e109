from typing import Literal

EncodeAlign = Literal['auto', 'centre', 'face']

ENCODE_ALIGN_VALUES: set[EncodeAlign] = { 'auto', 'centre', 'face',  }

def check_encode_align(value: str) -> EncodeAlign:
    if value in ENCODE_ALIGN_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {ENCODE_ALIGN_VALUES!r}")
