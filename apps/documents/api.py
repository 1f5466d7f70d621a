"""Documents API: upload, list, detail, file, progress (SSE), passages, reprocess, shares, notes.

Every route resolves the document through selectors.document_get_for: someone who may
not see a document gets 404, never 403.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import TheoError
from apps.core.openapi import errors
from apps.core.pagination import StandardPagination, paginated
from apps.core.serializers import query_choice, validated
from apps.core.streaming import EventStreamAPIView, EventStreamRenderer, event_stream_response
from apps.documents import selectors, services, storage, uploads
from apps.documents.models import Document
from apps.documents.progress import progress_stream
from apps.documents.selectors import Access, document_get_for
from apps.documents.serializers import (
    DocumentSerializer,
    DocumentUpdateSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    PassageSerializer,
    ShareCreateSerializer,
    ShareDeleteSerializer,
    ShareSerializer,
    UploadSerializer,
)
from apps.users.requests import AuthenticatedRequest

CONTENT_TYPES: dict[str, str] = {
    Document.FileType.PDF: "application/pdf",
    Document.FileType.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Document.FileType.HTML: "text/html; charset=utf-8",
    Document.FileType.MARKDOWN: "text/markdown; charset=utf-8",
    Document.FileType.TEXT: "text/plain; charset=utf-8",
}


class StoredFileMissing(TheoError):
    """The row exists but its file is gone from THEO_DATA_DIR: an operator's problem (500)."""

    status_code = 500
    code = "file_missing"
    message = "The stored file is missing; ask an admin to check THEO_DATA_DIR."


class DocumentListView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = StandardPagination  # for the schema: the response is a page

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            uploads.install_upload_handler(request)  # size limit while the body streams in
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Document.Status.values),
            OpenApiParameter("q", str, description="Part of the title or file name"),
        ],
        responses=DocumentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        status_filter = query_choice(request, "status", Document.Status.values)
        documents = selectors.documents_list(user=request.user, status=status_filter, q=request.query_params.get("q"))
        return paginated(request, self, documents, DocumentSerializer)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={202: DocumentSerializer, **errors(409, 413, 415, 429)},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = uploads.parsed_upload(request)  # parses the multipart body through the limited handler
        valid = validated(UploadSerializer, data)
        document = services.document_upload(
            owner=request.user,
            uploaded_file=valid["file"],
            title=valid.get("title", ""),
            document_type=valid["document_type"],
        )
        body = DocumentSerializer(document, context={"request": request}).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": f"/api/v1/documents/{document.pk}/"}
        )


class DocumentDetailView(APIView):
    parser_classes = [JSONParser, FormParser]

    @extend_schema(responses=DocumentSerializer)
    def get(self, request: Request, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk)
        return Response(DocumentSerializer(document, context={"request": request}).data)

    @extend_schema(request=DocumentUpdateSerializer, responses=DocumentSerializer)
    def patch(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.EDIT)
        services.document_update(
            document=document, actor=request.user, **validated(DocumentUpdateSerializer, request.data)
        )
        return Response(DocumentSerializer(document, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.OWNER)
        services.document_delete(document=document, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentFileView(APIView):
    @extend_schema(responses={(200, media.split(";")[0]): OpenApiTypes.BINARY for media in CONTENT_TYPES.values()})
    def get(self, request: Request, pk: Any) -> FileResponse:
        document = document_get_for(user=request.user, pk=pk)
        path = storage.path_for(document)
        if not path.exists():
            raise StoredFileMissing()
        response = FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,  # never rendered inline: an uploaded HTML file must not run here
            filename=document.original_filename,
            content_type=CONTENT_TYPES[document.file_type],
        )
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class DocumentProgressView(EventStreamAPIView):
    renderer_classes = [EventStreamRenderer, renderers.JSONRenderer]

    @extend_schema(
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                description="stage*, progress*, then completed | failed | deleted | ended (access_revoked, "
                "account_inactive, stalled)"
            )
        }
    )
    def get(self, request: Request, pk: Any) -> StreamingHttpResponse:
        document = document_get_for(user=request.user, pk=pk)
        return event_stream_response(progress_stream(document.pk, user_id=request.user.pk))


class DocumentPassagesView(APIView):
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(responses=PassageSerializer(many=True))
    def get(self, request: Request, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk)
        return paginated(request, self, selectors.document_passages(document=document), PassageSerializer)


class DocumentReprocessView(APIView):
    @extend_schema(request=None, responses={202: DocumentSerializer, **errors(409, 429)})
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.EDIT)
        services.document_reprocess(document=document, actor=request.user)
        return Response(DocumentSerializer(document, context={"request": request}).data, status=202)


class DocumentSharesView(APIView):
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(responses=ShareSerializer(many=True))
    def get(self, request: Request, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.OWNER)
        return paginated(request, self, selectors.document_shares(document=document), ShareSerializer)

    @extend_schema(request=ShareCreateSerializer, responses={201: ShareSerializer})
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.OWNER)
        data = validated(ShareCreateSerializer, request.data)
        share = services.document_share(document=document, actor=request.user, **data)
        return Response(ShareSerializer(share).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ShareDeleteSerializer,
        parameters=[OpenApiParameter("email", OpenApiTypes.EMAIL, description="Or give it in the body")],
        responses={204: None},
    )
    def delete(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.OWNER)
        data = validated(ShareDeleteSerializer, request.data or request.query_params)
        services.document_unshare(document=document, actor=request.user, email=data["email"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentNotesView(APIView):
    pagination_class = StandardPagination  # for the schema: the response is a page

    @extend_schema(responses=NoteSerializer(many=True))
    def get(self, request: Request, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk)
        return paginated(request, self, selectors.document_notes(document=document), NoteSerializer)

    @extend_schema(request=NoteCreateSerializer, responses={201: NoteSerializer})
    def post(self, request: AuthenticatedRequest, pk: Any) -> Response:
        document = document_get_for(user=request.user, pk=pk, need=Access.EDIT)
        data = validated(NoteCreateSerializer, request.data)
        note = services.note_create(document=document, author=request.user, **data)
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
