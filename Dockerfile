# shopctl in a container. See docker-compose.yml for a PostgreSQL beside it.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY shopctl ./shopctl
COPY migrations ./migrations
# A plain (non-editable) install: the migrations travel inside the wheel. With the extras for
# simulate on Locust workers (--processes, --master, --worker) and its --html report.
RUN pip install '.[load,html]' && rm -rf /src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin shop
USER shop
WORKDIR /home/shop
ENV SHOPCTL_CONFIG_DIR=/home/shop/.config/shopctl

# simulate --master listens here for its workers
EXPOSE 5557

ENTRYPOINT ["shopctl"]
CMD ["--help"]
