"""Staff API for the failed-job registry (monitoring tools and runbooks use it)."""

from flask.views import MethodView
from flask_login import current_user

from app.blueprints.system import JOBS_MANAGE, api_bp, services
from app.blueprints.system.schemas import FailedJobSchema
from app.core import jobs
from app.core.jobs import require_queue
from app.core.permissions import require_permission
from app.core.transaction import transaction

BEARER = [{"bearerAuth": []}]


@api_bp.route("/jobs/failed")
class FailedJobs(MethodView):
    @require_permission(JOBS_MANAGE)
    @api_bp.response(200, FailedJobSchema(many=True))
    @api_bp.doc(security=BEARER)
    def get(self):
        """Failed jobs across all queues, newest first"""
        require_queue()
        return jobs.failed_jobs()


@api_bp.route("/jobs/failed/<job_id>")
class FailedJob(MethodView):
    @require_permission(JOBS_MANAGE)
    @api_bp.response(200, FailedJobSchema)
    @api_bp.doc(security=BEARER)
    def get(self, job_id):
        """One failed job with its traceback"""
        require_queue()
        return jobs.get_failed_job(job_id)

    @require_permission(JOBS_MANAGE)
    @api_bp.response(204)
    @api_bp.doc(security=BEARER)
    def delete(self, job_id):
        """Delete a failed job for good"""
        require_queue()
        with transaction():
            services.delete_failed_job(job_id, actor=current_user)


@api_bp.route("/jobs/failed/<job_id>/retry")
class RetryFailedJob(MethodView):
    @require_permission(JOBS_MANAGE)
    @api_bp.response(202, FailedJobSchema)
    @api_bp.doc(security=BEARER)
    def post(self, job_id):
        """Queue a failed job again"""
        require_queue()
        with transaction():
            return services.retry_failed_job(job_id, actor=current_user)
