from setuptools import find_packages, setup

setup(
    name="dfpy",
    version="0.1.0",
    description="P2P container image and file distribution (Dragonfly 1.x compatible supernode, dfget, dfdaemon)",
    python_requires=">=3.11",
    packages=find_packages(include=["dfcommon*", "supernode*", "dfdaemon*", "registry_plugin*", "webhooks*"]),
    include_package_data=True,
    install_requires=[
        "flask>=3.0",
        "gevent>=23.0",
        "requests>=2.31",
        "urllib3>=2.0",                  # imported directly: the proxy forwarder and the piece/supernode client
        "docker>=7.0",
        "pyjwt[crypto]>=2.8",
        "apscheduler>=3.10,<4",
        "prometheus-client>=0.19",
        "redis>=5.0",
        "tqdm>=4.66",
        "cryptography>=41",
        "pyyaml>=6.0",
        "sqlalchemy>=2.0",
        "xxhash>=3.4",                   # the fast piece digest between our components (dfcommon.piece_digest)
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6", "helm-python-sdk>=0.2", "kubernetes-validate>=1.30"],
        "bench": ["matplotlib>=3.7", "py-spy>=0.3"],
    },
    entry_points={
        "console_scripts": [
            "supernode=supernode.cli:main",
            "dfget=dfdaemon.cli.dfget:main",
            "dfdaemon=dfdaemon.cli.main:main",
        ]
    },
)
