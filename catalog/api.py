from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response

from catalog import selectors, services
from catalog.serializers import EntryFilterSerializer, EntryListSerializer, EntrySerializer
from portal.input_guard import BoundedLimitOffsetPagination, query_params
from portal.permissions import is_keeper


class KeepersWrite(permissions.BasePermission):
    message = "Only Keepers change the catalog."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or is_keeper(request.user)


class CatalogPagination(BoundedLimitOffsetPagination):
    """limit/offset with the exact `count`, counted once per catalog version and filter (issue 19)."""

    def get_count(self, queryset):
        return selectors.entry_count(queryset)


class EntryList(generics.ListCreateAPIView):
    """The service catalog (filter with ?kind=, ?tag=, ?lifecycle=, ?owner=); Keepers POST new entries."""

    permission_classes = [permissions.IsAuthenticated, KeepersWrite]
    pagination_class = CatalogPagination

    def get_serializer_class(self):
        return EntrySerializer if self.request.method == "POST" else EntryListSerializer

    def get_queryset(self):
        return selectors.entry_list(**query_params(EntryFilterSerializer, self.request))

    @extend_schema(parameters=[EntryFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        serializer = EntrySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.entry_save(user=request.user, data=serializer.validated_data, request=request)
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class EntryDetail(generics.RetrieveUpdateDestroyAPIView):
    """One catalog entry; Keepers PATCH and DELETE."""

    permission_classes = [permissions.IsAuthenticated, KeepersWrite]
    serializer_class = EntrySerializer
    lookup_field = "slug"

    def get_object(self):
        return selectors.entry_get(slug=self.kwargs["slug"])

    def update(self, request, *args, **kwargs):
        entry = self.get_object()
        serializer = EntrySerializer(entry, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        entry = services.entry_save(user=request.user, entry=entry, data=serializer.validated_data, request=request)
        return Response(EntrySerializer(entry).data)

    def destroy(self, request, *args, **kwargs):
        services.entry_delete(user=request.user, entry=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
