# Image for the worker and the API of docker-compose.yml (not built on the CI machines: no engine).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY schemas ./schemas
COPY projections ./projections
COPY connectors ./connectors
RUN pip install --no-cache-dir .
USER nobody
CMD ["onestop", "worker"]
