from typing import Literal

EditAlign = Literal['auto', 'centre', 'face']

EDIT_ALIGN_VALUES: set[EditAlign] = { 'auto', 'centre', 'face',  }

def check_edit_align(value: str) -> EditAlign:
    if value in EDIT_ALIGN_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {EDIT_ALIGN_VALUES!r}")
