from typing import Literal

EditImageFormat = Literal['jpeg', 'png', 'webp']

EDIT_IMAGE_FORMAT_VALUES: set[EditImageFormat] = { 'jpeg', 'png', 'webp',  }

def check_edit_image_format(value: str) -> EditImageFormat:
    if value in EDIT_IMAGE_FORMAT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {EDIT_IMAGE_FORMAT_VALUES!r}")
