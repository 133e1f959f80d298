FROM python:3.11-slim
# PYTHONPATH: the app runs from /app, its one copy (manage.py, gunicorn and celery all
# import it from there); it is never pip-installed as well.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app
WORKDIR /app

# The dependencies alone first, as locked (uv.lock: the versions CI tested, hashes
# checked; what running needs, no test tools): this layer is rebuilt only when they
# change, not at every change of the code. uv reads the lock, then leaves.
COPY pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv export --quiet --frozen --no-emit-project -o /tmp/requirements.txt \
    && uv pip install --system --no-cache -r /tmp/requirements.txt \
    && pip uninstall --yes uv \
    && rm /tmp/requirements.txt

COPY . .
RUN DJANGO_SETTINGS_MODULE=config.production SECRET_KEY=build-only ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput

# Everything above belongs to root and stays read-only for the processes: they run as
# an unprivileged user and write only to /tmp (gunicorn's metrics, beat's schedule).
# A numeric USER lets an orchestrator check runAsNonRoot.
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py"]
