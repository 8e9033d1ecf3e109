from typing import Literal

LatentPrior = Literal['fitted', 'standard']

LATENT_PRIOR_VALUES: set[LatentPrior] = { 'fitted', 'standard',  }

def check_latent_prior(value: str) -> LatentPrior:
    if value in LATENT_PRIOR_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {LATENT_PRIOR_VALUES!r}")
