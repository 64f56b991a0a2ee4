from tests.fixtures.redis_server import private_redis, redis_ns

__all__ = ["private_redis", "redis_ns"]
