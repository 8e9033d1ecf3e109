
""" A client library for accessing IntroVAC attribute editing API """
from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
