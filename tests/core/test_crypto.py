"""Secrets at rest: encrypted with DATA_ENCRYPTION_KEY, rotatable, required in production."""

import pytest

from app.core import crypto
from config import ConfigurationError


def test_round_trip_and_ciphertext_hides_the_plaintext(app):
    with app.app_context():
        token = crypto.encrypt("JBSWY3DPEHPK3PXP")
        assert "JBSWY3DPEHPK3PXP" not in token
        assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_keys_can_be_rotated_old_values_still_decrypt(app):
    old, new = crypto.new_key(), crypto.new_key()
    with app.app_context():
        app.config["DATA_ENCRYPTION_KEY"] = old
        try:
            stored = crypto.encrypt("secret")
            app.config["DATA_ENCRYPTION_KEY"] = f"{new},{old}"
            assert crypto.decrypt(stored) == "secret"
            app.config["DATA_ENCRYPTION_KEY"] = new
            with pytest.raises(crypto.DecryptionError):
                crypto.decrypt(stored)
        finally:
            app.config["DATA_ENCRYPTION_KEY"] = None


def test_production_needs_its_own_key(app):
    with app.app_context():
        app.config["APP_ENV"] = "production"
        try:
            with pytest.raises(ConfigurationError, match="DATA_ENCRYPTION_KEY"):
                crypto.encrypt("secret")
        finally:
            app.config["APP_ENV"] = "testing"
