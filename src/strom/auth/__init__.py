"""Request authentication (who is calling): static token file and verified client certs. The
identity itself (`UserInfo`) is bottom-layer vocabulary in `strom.user`."""

from strom.auth.authn import AuthConfigError, Authenticator, TokenFile, ensure_admin_token

__all__ = ["AuthConfigError", "Authenticator", "TokenFile", "ensure_admin_token"]
