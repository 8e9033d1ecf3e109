from typing import Literal

EditJsonAlign = Literal['auto', 'centre', 'face']

EDIT_JSON_ALIGN_VALUES: set[EditJsonAlign] = { 'auto', 'centre', 'face',  }

def check_edit_json_align(value: str) -> EditJsonAlign:
    if value in EDIT_JSON_ALIGN_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {EDIT_JSON_ALIGN_VALUES!r}")
