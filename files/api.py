"""REST API of the file browser: the same services and rules as the pages."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from files import services
from files.paths import MAX_NAME_LENGTH, MAX_PATH_LENGTH, path_clean
from files.roots import root_get, roots_list
from files.views import download_response
from portal.errors import PortalError
from portal.input_guard import single_param
from portal.permissions import teams_visible_to

# What files.paths accepts, as patterns for the schema (the same rules; the server checks with files.paths).
_ALLOWED = "[^\\x00-\\x1f\\x7f/\\\\]"  # no control character, no slash or backslash
_SPACES = "\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_SOLID = f"[^\\x00-\\x1f\\x7f/\\\\.{_SPACES}]"  # and not a dot or a space
_NAME = f"(?:{_ALLOWED}*{_SOLID}{_ALLOWED}*|[{_SPACES}]*\\.{{3,}}[{_SPACES}]*)"  # not blank, not . or ..
_FIRST = _NAME.replace("\\x7f/", "\\x7f:/")  # the first name holds no ':' (no drive letters)
_SHORT = "(?![\\s\\S]*[^/]{256})"  # no name longer than 255 (files.paths counts bytes: 255 for ASCII names)
NAME_PATTERN = f"^{_SHORT}{_NAME}$"
PATH_PATTERN = f"^{_SHORT}(?:(?:{_FIRST}|\\.)(?:/(?:{_NAME}|\\.)?)*)?$"  # relative, no '..', '' is the top
BELOW_TOP = f"^{_SHORT}(?:\\./+)*{_FIRST}(?:/(?:{_NAME}|\\.)?)*$"  # something below the top folder
PATH_PARAMETER = OpenApiParameter(
    "path",
    str,
    description="A path inside the root, like `data/train.csv`; empty for the top.",
    required=False,
    pattern=PATH_PATTERN,
)
ITEM_PARAMETER = OpenApiParameter(
    "path", str, description="A path inside the root, like `data/train.csv`.", required=True, pattern=BELOW_TOP
)


def _pattern(regex: str, **kwargs):
    return serializers.RegexField(
        regex,
        error_messages={
            "invalid": "Give a path or name without control characters, '..' or a leading '/', "
            "and names of at most 255 characters."
        },
        **kwargs,
    )


class RootSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    team = serializers.CharField(source="team.slug")


class FileEntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    is_dir = serializers.BooleanField()
    size = serializers.IntegerField(allow_null=True)
    modified = serializers.DateTimeField(allow_null=True)


class ListingSerializer(serializers.Serializer):
    root = serializers.CharField()
    path = serializers.CharField(allow_blank=True)
    is_dir = serializers.BooleanField()
    entries = FileEntrySerializer(many=True, required=False)
    size = serializers.IntegerField(allow_null=True, required=False)


class FolderSerializer(serializers.Serializer):
    path = _pattern(PATH_PATTERN, allow_blank=True, max_length=MAX_PATH_LENGTH, default="")
    name = _pattern(NAME_PATTERN, max_length=MAX_NAME_LENGTH)


class RenameSerializer(serializers.Serializer):
    path = _pattern(BELOW_TOP, max_length=MAX_PATH_LENGTH)
    new_name = _pattern(NAME_PATTERN, max_length=MAX_NAME_LENGTH)


class TextSerializer(serializers.Serializer):
    path = _pattern(BELOW_TOP, max_length=MAX_PATH_LENGTH)
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), min_length=1)
    path = _pattern(PATH_PATTERN, allow_blank=True, required=False, max_length=MAX_PATH_LENGTH)


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
    paths = serializers.ListField(child=serializers.CharField(), required=False)
    path = serializers.CharField(required=False)


class RootList(APIView):
    """The places your team's files live: the team folder and every notebook, job and bucket with files."""

    @extend_schema(
        parameters=[OpenApiParameter("team", str, description="A team's slug (default: all your teams).")],
        responses=RootSerializer(many=True),
    )
    def get(self, request):
        teams = teams_visible_to(request.user)
        if slug := single_param(request, "team"):
            teams = teams.filter(slug=slug)
        roots = [root for team in teams.order_by("name")[:50] for root in roots_list(user=request.user, team=team)]
        return Response(RootSerializer(roots, many=True).data)


class RootDetail(APIView):
    """A folder's entries or a file's size; DELETE removes a file or a folder with everything in it."""

    @extend_schema(parameters=[PATH_PARAMETER], responses=ListingSerializer)
    def get(self, request, key):
        root = root_get(user=request.user, key=key)
        path = path_clean(single_param(request, "path"))
        if root.store.is_dir(path):
            entries = sorted(root.store.list(path), key=lambda e: (not e.is_dir, e.name))
            body = {"root": key, "path": path, "is_dir": True, "entries": FileEntrySerializer(entries, many=True).data}
        else:
            body = {"root": key, "path": path, "is_dir": False, "size": root.store.stat(path).size}
        return Response(body)

    @extend_schema(parameters=[ITEM_PARAMETER], responses={204: None})
    def delete(self, request, key):
        root = root_get(user=request.user, key=key)
        services.file_delete(user=request.user, root=root, path=single_param(request, "path", ""), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Download(APIView):
    """The file's bytes (S3: a redirect to a short-lived address), or a folder as a zip."""

    @extend_schema(
        parameters=[PATH_PARAMETER], responses={(200, "application/octet-stream"): OpenApiResponse(), 302: None}
    )
    def get(self, request, key):
        root = root_get(user=request.user, key=key)
        return download_response(root, path_clean(single_param(request, "path")))


class Upload(APIView):
    """Upload one or more files (multipart field `files`) into the folder `path`; streamed, never all in memory."""

    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: MessageSerializer})
    def post(self, request, key):
        root = root_get(user=request.user, key=key)
        written = services.file_upload(
            user=request.user,
            root=root,
            folder=request.data.get("path", ""),
            uploads=request.FILES.getlist("files"),
            request=request,
        )
        return Response({"message": f"Uploaded {len(written)} file(s).", "paths": written}, status=201)


class Folders(APIView):
    @extend_schema(request=FolderSerializer, responses={201: MessageSerializer})
    def post(self, request, key):
        root = root_get(user=request.user, key=key)
        data = _valid(FolderSerializer, request)
        path = services.folder_create(
            user=request.user, root=root, folder=data["path"], name=data["name"], request=request
        )
        return Response({"message": "Folder made.", "path": path}, status=201)


class Rename(APIView):
    @extend_schema(request=RenameSerializer, responses=MessageSerializer)
    def post(self, request, key):
        root = root_get(user=request.user, key=key)
        data = _valid(RenameSerializer, request)
        new_path = services.file_rename(
            user=request.user, root=root, path=data["path"], new_name=data["new_name"], request=request
        )
        return Response({"message": "Renamed.", "path": new_path})


class Text(APIView):
    """Replace a small text file's contents (1 MB at most)."""

    @extend_schema(request=TextSerializer, responses=MessageSerializer)
    def put(self, request, key):
        root = root_get(user=request.user, key=key)
        data = _valid(TextSerializer, request)
        services.file_write_text(user=request.user, root=root, path=data["path"], text=data["text"], request=request)
        return Response({"message": "Saved.", "path": path_clean(data["path"])})


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        fields = {key: " ".join(str(m) for m in value) for key, value in serializer.errors.items()}
        raise PortalError(next(iter(fields.values())), code="invalid", fields=fields)
    return serializer.validated_data
