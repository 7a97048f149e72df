DROP FUNCTION app.notification_queues();
