import pytest

from toolkit.artifacts.config import BlobStoreConfig, ConfigError, LocalStoreConfig, load_store_config
from toolkit.artifacts.stores import BlobStore, LocalStore, open_store
from tasks.repository import ARTIFACTS_CONFIG, REPO_ROOT


def _config(tmp_path, text):
    path = tmp_path / "artifacts.toml"
    path.write_text(text)
    return path


def test_the_shipped_configuration_is_a_local_folder(tmp_path):
    config = load_store_config(ARTIFACTS_CONFIG)
    assert isinstance(config, LocalStoreConfig)
    store = open_store(config, ARTIFACTS_CONFIG.parent)  # a relative path is relative to the file's folder
    assert isinstance(store, LocalStore) and store.root.resolve() == REPO_ROOT / ".artifacts"


@pytest.mark.parametrize("text, error", [
    ('kind = "ftp"\n', "kind: Input tag 'ftp' found using 'kind' does not match any of the expected tags"),
    ('kind = "local"\n', "path: Field required"),
    ('kind = "local"\npath = "x"\ncolour = "red"\n', "colour: Extra inputs are not permitted"),
    ('kind = "blob"\ncontainer = "Bad_Name"\naccount_url = "https://a"\n', "container: String should match pattern"),
    ('kind = "blob"\ncontainer = "releases"\nauth = "sas"\naccount_url = "https://a"\n',
     "auth = 'sas' needs sas_token_env"),
    ('kind = "blob"\ncontainer = "releases"\nauth = "connection-string"\nconnection_string_env = "lower"\n',
     "connection_string_env: String should match pattern"),
    ("kind = \n", "invalid TOML"),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, error):
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_store_config(path)
    assert str(raised.value).startswith(str(path)) and error in str(raised.value)


def test_the_azure_configuration_uses_entra_id_and_holds_no_secret():
    from tasks.repository import REPO_ROOT

    config = load_store_config(REPO_ROOT / "environments" / "artifacts-azure.toml")
    assert isinstance(config, BlobStoreConfig) and config.auth == "entra" and config.account_url.startswith("https://")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.toml: artifact store configuration not found"):
        load_store_config(tmp_path / "nowhere.toml")


def test_blob_store_reads_its_secret_from_the_named_variable_only(tmp_path, monkeypatch):
    config = load_store_config(_config(tmp_path, 'kind = "blob"\ncontainer = "releases"\nauth = "connection-string"\n'
                                                 'connection_string_env = "TEST_ARTIFACTS_CS"\n'))
    assert isinstance(config, BlobStoreConfig)
    monkeypatch.delenv("TEST_ARTIFACTS_CS", raising=False)
    with pytest.raises(ConfigError, match="environment variable TEST_ARTIFACTS_CS is not set"):
        open_store(config, tmp_path)
    monkeypatch.setenv("TEST_ARTIFACTS_CS", "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;"
                                            "BlobEndpoint=http://127.0.0.1:1/a;")
    store = open_store(config, tmp_path)
    assert isinstance(store, BlobStore) and store.describe() == "blob container http://127.0.0.1:1/a/releases"
