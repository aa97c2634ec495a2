FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 1000 tradebot \
    && mkdir -p /app/var /app/staticfiles && chown -R tradebot /app/var /app/staticfiles
USER tradebot

EXPOSE 8000
# The same web server as compose's web service: WEB_PROCESSES daphne processes (manage.py runweb).
CMD ["python", "manage.py", "runweb", "--host", "0.0.0.0", "--port", "8000"]
