"""URL map: the API at the root (as the seed's contract), the schema, the admin."""

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from predictions import api
from predictions.admin_views import overview
from predictions.health import health
from workrequests.api import WorkRequestListView

urlpatterns = [
    path("asset_predict", api.AssetPredictView.as_view(), name="asset-predict"),
    path(
        "asset_failure_type_predict",
        api.AssetFailureTypePredictView.as_view(),
        name="asset-failure-type-predict",
    ),
    path("jobs/<uuid:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("work_requests", WorkRequestListView.as_view(), name="work-requests"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", health, name="health"),
    path("admin/overview/", overview, name="admin-overview"),
    path("admin/", admin.site.urls),
]

handler404 = "predictions.api.not_found"
handler500 = "predictions.api.server_error"
