import tomllib

import yaml
from conftest import REPOSITORY


def test_conda_environment_pins_the_same_dependencies_as_pyproject():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((REPOSITORY / "envs" / "neuroevo.yaml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert sorted(pip_section) == sorted(project["dependencies"])
    python_pin = next(
        item for item in environment["dependencies"] if isinstance(item, str) and item.startswith("python")
    )
    assert project["requires-python"] == ">=" + python_pin.split("=")[1]
