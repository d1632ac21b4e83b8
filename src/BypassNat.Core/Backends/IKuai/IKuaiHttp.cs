using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Threading;

namespace BypassNat.Backends.IKuai
{
    /// <summary>One answer of the router: the HTTP status, the body, and the cookies it set.</summary>
    public sealed class IKuaiAnswer
    {
        public int Status { get; set; }
        public string Body { get; set; }
        public Dictionary<string, string> Cookies { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
    }

    /// <summary>
    /// The HTTP(S) connection to one router, with its certificate checked by <see cref="CertificateTrust"/>
    /// in the handshake. No redirect is followed (a redirect could carry the next request, and its
    /// secret, elsewhere), no proxy is used (the router is on the LAN), cookies are the API's own.
    /// Requests and answers are traced by method and path only: bodies carry the password or token.
    /// </summary>
    public sealed class IKuaiHttp : IDisposable
    {
        private readonly HttpClient _client;
        private readonly IKuaiSettings _settings;
        private readonly CancellationToken _cancel;

        public IKuaiHttp(IKuaiSettings settings, CancellationToken cancel = default)
        {
            _settings = settings;
            _cancel = cancel;
            Trust = new CertificateTrust(settings);
            var handler = new HttpClientHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                UseProxy = false,
            };
            if (settings.UseHttps)
                handler.ServerCertificateCustomValidationCallback = (request, certificate, chain, errors) =>
                    certificate != null && Trust.Check(certificate.GetRawCertData(), errors == SslPolicyErrors.None);
            _client = new HttpClient(handler) { Timeout = settings.Timeout };
        }

        public CertificateTrust Trust { get; }

        /// <summary>Each request as "METHOD path -> status", for -Verbose.</summary>
        public Action<string> Trace { get; set; }

        public string BaseAddress => _settings.Endpoint;

        /// <summary>How many requests went to the router so far.</summary>
        public int Requests { get; private set; }

        public IKuaiAnswer Send(HttpMethod method, string path, JsonValue body, IEnumerable<KeyValuePair<string, string>> headers, string what)
        {
            using (var request = new HttpRequestMessage(method, new Uri(BaseAddress + path)))
            {
                foreach (KeyValuePair<string, string> header in headers ?? new KeyValuePair<string, string>[0])
                    request.Headers.TryAddWithoutValidation(header.Key, header.Value);
                request.Headers.TryAddWithoutValidation("Accept", "application/json");
                if (body != null) request.Content = new StringContent(body.ToString(), new UTF8Encoding(false), "application/json");
                HttpResponseMessage response;
                Requests++;
                try
                {
                    response = _client.SendAsync(request, _cancel).GetAwaiter().GetResult();
                }
                catch (OperationCanceledException) when (_cancel.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception e) when (e is HttpRequestException || e is OperationCanceledException || e is AuthenticationException || e is System.IO.IOException)
                {
                    throw Failure(e, what);
                }

                using (response)
                {
                    var answer = new IKuaiAnswer
                    {
                        Status = (int)response.StatusCode,
                        Body = response.Content == null ? string.Empty : Encoding.UTF8.GetString(response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult()),
                    };
                    if (response.Headers.TryGetValues("Set-Cookie", out IEnumerable<string> cookies))
                        foreach (string cookie in cookies)
                        {
                            string pair = cookie.Split(';')[0];
                            int eq = pair.IndexOf('=');
                            if (eq > 0) answer.Cookies[pair.Substring(0, eq).Trim()] = pair.Substring(eq + 1).Trim();
                        }

                    Trace?.Invoke($"{method} {path} ({what}) -> HTTP {answer.Status}");
                    return answer;
                }
            }
        }

        /// <summary>What went wrong on the way, as the SSH transport names it; never with a request's body.</summary>
        private BypassNatException Failure(Exception e, string what)
        {
            if (Trust.Refusal != null) return Trust.Refusal;
            string router = _settings.Endpoint;
            for (Exception inner = e; inner != null; inner = inner.InnerException)
            {
                if (inner is SocketException socket)
                {
                    if (socket.SocketErrorCode == SocketError.ConnectionRefused)
                        return new BypassNatException("BypassNat.ConnectionRefused", FailureKind.ConnectionError,
                            $"Nothing answers at {router} ({what}): the connection was refused. Is the web UI on another port (-Port), or on {(_settings.UseHttps ? "HTTP" : "HTTPS")}? Nothing was changed.", router, e);
                    if (socket.SocketErrorCode == SocketError.TimedOut || socket.SocketErrorCode == SocketError.HostUnreachable || socket.SocketErrorCode == SocketError.NetworkUnreachable)
                        return new BypassNatException("BypassNat.RouterUnreachable", FailureKind.ConnectionError,
                            $"{router} did not answer ({what}: {socket.Message}).", router, e);
                }

                if (inner is AuthenticationException)
                    return new BypassNatException("BypassNat.TlsFailed", FailureKind.SecurityError,
                        $"The TLS handshake with {router} failed ({inner.Message}). Nothing was sent to it.", router, e);
            }

            if (e is OperationCanceledException)
                return new BypassNatException("BypassNat.RouterUnreachable", FailureKind.ConnectionError,
                    $"{router} did not answer within {_settings.Timeout.TotalSeconds:0} s ({what}).", router, e);
            return new BypassNatException("BypassNat.ConnectionFailed", FailureKind.ConnectionError,
                $"The request to {router} failed ({what}): {Innermost(e).Message}", router, e);
        }

        private static Exception Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            return e;
        }

        public void Dispose() => _client.Dispose();
    }
}
