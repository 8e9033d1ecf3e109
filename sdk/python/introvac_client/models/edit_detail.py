from typing import Literal

EditDetail = Literal['full', 'residual']

EDIT_DETAIL_VALUES: set[EditDetail] = { 'full', 'residual',  }

def check_edit_detail(value: str) -> EditDetail:
    if value in EDIT_DETAIL_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {EDIT_DETAIL_VALUES!r}")
