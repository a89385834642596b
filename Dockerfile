# The pipeline's image: Airflow 3 with the locked runtime dependencies, the bookspot-tripletex package and
# the DAGs. One image for every component: `airflow scheduler`, `airflow dag-processor`,
# `airflow api-server`, `airflow triggerer`, `airflow celery worker`, and the once-per-deployment
# `python -m bookspot_tripletex db migrate` / `airflow db migrate` jobs. Configuration (metadata and
# staging URLs, executor, broker, secrets backend) comes from the environment at run time; nothing
# secret is baked in.

FROM python:3.11-slim AS wheel
WORKDIR /src
COPY requirements-bootstrap.txt ./
RUN pip install --require-hashes --no-deps --only-binary :all: -r requirements-bootstrap.txt
COPY pyproject.toml ./
COPY plugins/ plugins/
COPY sql/ sql/
COPY expectations/ expectations/
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AIRFLOW_HOME=/opt/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    TQDM_DISABLE=1
WORKDIR /build
COPY requirements-bootstrap.txt requirements.txt ./
RUN pip install --require-hashes --no-deps --only-binary :all: -r requirements-bootstrap.txt \
 && pip install --require-hashes -r requirements.txt
COPY --from=wheel /wheels/ wheels/
RUN pip install --no-deps wheels/*.whl
WORKDIR /
RUN rm -rf /build
RUN useradd --create-home --uid 50000 --home-dir /opt/airflow airflow
COPY --chown=airflow dags/ /opt/airflow/dags/
USER airflow
WORKDIR /opt/airflow
ENTRYPOINT ["airflow"]
CMD ["version"]
