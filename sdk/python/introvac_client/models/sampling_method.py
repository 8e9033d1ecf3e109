from typing import Literal

SamplingMethod = Literal['exact', 'langevin']

SAMPLING_METHOD_VALUES: set[SamplingMethod] = { 'exact', 'langevin',  }

def check_sampling_method(value: str) -> SamplingMethod:
    if value in SAMPLING_METHOD_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {SAMPLING_METHOD_VALUES!r}")
