"""Request authentication (who is calling): static token file and verified client certs."""

from strom.auth.authn import AuthConfigError, Authenticator, TokenFile, ensure_admin_token
from strom.user import UserInfo

__all__ = ["AuthConfigError", "Authenticator", "TokenFile", "UserInfo", "ensure_admin_token"]
