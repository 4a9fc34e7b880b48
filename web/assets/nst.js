/*
 * The live half of the page, run in the browser by Dash's clientside callbacks.
 *
 * One job at a time: Start opens a fresh WebSocket (the dash-extensions component, id "ws"), sends
 * protocol v2's `start` once the socket is open, and every server message updates the page here,
 * with dash_clientside.set_props, so a frame never makes a round trip through the Dash server.
 * Each job's resume_token is kept in the browser (the "tokens" Store, in localStorage): results
 * are private to their tokens, and the gallery lists the ones this browser holds.
 */
(function () {
    "use strict";

    const ACTIVE = new Set(["connecting", "queued", "running", "cancelling"]);
    const MAX_TOKENS = 100;  // what the service's /v1/results takes in one request
    // File signatures of what the service decodes: checked here so a wrong file gets a message
    // before anything is sent.
    const SIGNATURES = [
        {name: "PNG", test: (b) => b.startsWith("\x89PNG\r\n\x1a\n")},
        {name: "JPEG", test: (b) => b.startsWith("\xff\xd8\xff")},
        {name: "WebP", test: (b) => b.startsWith("RIFF") && b.slice(8, 12) === "WEBP"},
    ];
    const PHASE_BADGES = {
        idle: ["idle", "secondary"], connecting: ["connecting", "info"],
        queued: ["queued", "warning"], running: ["painting", "primary"],
        cancelling: ["cancelling", "warning"], done: ["done", "success"],
        cancelled: ["cancelled", "secondary"], failed: ["error", "danger"],
    };
    const ERROR_TITLES = {
        bad_request: "The service refused the settings",
        bad_image: "The service could not use an image",
        busy: "The service is busy",
        not_ready: "The service is still starting",
        unauthorized: "The service refused the API key",
        forbidden_origin: "The service does not accept this page's address",
        shutting_down: "The service is restarting",
        internal: "The service failed",
    };

    // The job this page follows. Plain state of the page, not Dash props: frames go straight to
    // the DOM through set_props, and the loss history only grows by one point per frame.
    let job = {phase: "idle"};

    const set = (id, props) => window.dash_clientside.set_props(id, props);

    // What other scripts add to a job (paintings.js: several paintings, steering), each called if
    // set: starting(message) before `start` is sent, phase(name), steered(msg), and
    // lossFigure(figure) before the chart is drawn.
    const hooks = {};
    const hook = (name, ...args) => hooks[name] && hooks[name](...args);

    function phase(name, extra) {
        job.phase = name;
        hook("phase", name);
        const [label, color] = PHASE_BADGES[name];
        set("phase-badge", {children: label, className: `badge text-bg-${color} ms-auto`});
        const active = ACTIVE.has(name);
        set("start-button", {disabled: active});
        set("cancel-button", {disabled: !active || name === "cancelling"});
        return Object.assign({phase: name, job_id: job.id || null}, extra || {});
    }

    function status(text, color) {
        if (!text) {
            set("status-alert", {is_open: false});
        } else {
            set("status-alert", {children: text, color: color || "info", is_open: true});
        }
    }

    // Uploads ------------------------------------------------------------------------------------

    function base64Bytes(dataUri) {
        const comma = dataUri.indexOf(",");
        const text = dataUri.slice(comma + 1);
        const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
        return Math.floor(text.length / 4) * 3 - padding;
    }

    function formatBytes(bytes) {
        if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
        return `${Math.max(1, Math.round(bytes / 1024))} KB`;
    }

    function imageKind(dataUri) {
        const comma = dataUri.indexOf(",");
        if (!dataUri.startsWith("data:") || comma < 0 || !dataUri.slice(0, comma).endsWith(";base64")) {
            return null;
        }
        let head;
        try {
            head = atob(dataUri.slice(comma + 1, comma + 1 + 16));
        } catch (error) {
            return null;
        }
        const match = SIGNATURES.find((signature) => signature.test(head));
        return match ? match.name : null;
    }

    function imageSize(dataUri) {
        return new Promise((resolve, reject) => {
            const image = new Image();
            image.onload = () => resolve({width: image.naturalWidth, height: image.naturalHeight});
            image.onerror = () => reject(new Error("undecodable"));
            image.src = dataUri;
        });
    }

    async function readUpload(contents, filename, config) {
        const name = filename || "This file";
        const rejected = (message) => [null, null, "", message, "upload-box is-invalid"];
        if (!contents) return [null, null, "", "", "upload-box"];
        const bytes = base64Bytes(contents);
        const kind = imageKind(contents);
        if (!kind) {
            return rejected(`${name} is not an image nst can use: choose a PNG, JPEG or WebP file.`);
        }
        if (bytes > config.max_image_bytes) {
            return rejected(`${name} is ${formatBytes(bytes)}, over the limit of ` +
                            `${config.max_image_mb} MB: choose a smaller file.`);
        }
        let size;
        try {
            size = await imageSize(contents);
        } catch (error) {
            return rejected(`${name} looks like a ${kind} file but cannot be read: it may be damaged.`);
        }
        const info = `${name} · ${size.width}×${size.height} px · ${formatBytes(bytes)}`;
        return [contents, contents, info, "", "upload-box has-image"];
    }

    // Settings -----------------------------------------------------------------------------------

    function defaultOf(marks) {
        for (const [value, mark] of Object.entries(marks || {})) {
            if (mark && typeof mark === "object" && mark.label === "default") return Number(value);
        }
        return null;
    }

    function weightLabel(value, marks) {
        if (value === null || value === undefined) return "";
        const number = Number(Math.pow(10, value).toPrecision(2));
        const isDefault = Math.abs(value - defaultOf(marks)) < 1e-6;
        return isDefault ? `${number} (default)` : `${number}`;
    }

    function resetAdvanced(_clicks, ids, config) {
        return ids.map((id) => config.knobs[id.name].default);
    }

    // The job's settings as one object keyed by knob name, as the `start` message carries them.
    // A weight left on its default and an empty number are sent as null: the service's default.
    function knobSettings(values, ids, config) {
        const settings = {};
        ids.forEach((id, index) => {
            const knob = config.knobs[id.name];
            settings[id.name] = knobValue(values[index], knob);
        });
        return settings;
    }

    function knobValue(value, knob) {
        if (value === null || value === undefined || value === "") return null;
        if (knob.control === "log") {
            if (Math.abs(value - knob.default) < 1e-6) return null;
            return Number(Math.pow(10, value).toPrecision(3));
        }
        if (knob.control === "choice") return value;
        const number = Number(value);
        if (!Number.isFinite(number)) return null;
        return knob.whole ? Math.round(number) : number;
    }

    // Start and cancel ---------------------------------------------------------------------------

    function start(_clicks, content, style, values, ids, config) {
        const noUpdate = window.dash_clientside.no_update;
        if (ACTIVE.has(job.phase)) return noUpdate;
        if (!content || !style) {
            status(!content && !style ? "Add a photo and a painting first."
                   : !content ? "Add a photo first." : "Add a painting first.", "warning");
            return noUpdate;
        }
        const params = knobSettings(values, ids, config);
        const message = Object.assign({type: "start", content, style}, params);
        hook("starting", message);
        job = {
            phase: "connecting",
            message: JSON.stringify(message),
            params: params,
            opened: false,
            history: {step: [], total: [], style: [], content: [], tv: []},
            figure: config.loss_figure,
        };
        resetView(content, config);
        status("Connecting to the service…", "info");
        if (window.innerWidth < 992) {  // stacked layout: the live view is below the settings
            document.getElementById("frame-box").scrollIntoView({behavior: "smooth", block: "center"});
        }
        // A new socket per job: clear the old URL first, or the component would keep a closed one.
        set("ws", {url: null, send: null});
        setTimeout(() => set("ws", {url: config.socket_url}), 30);
        return phase("connecting");
    }

    function cancel() {
        if (!ACTIVE.has(job.phase)) return window.dash_clientside.no_update;
        if (job.phase === "connecting" && !job.opened) {
            closeSocket();
            status("Cancelled before the job reached the service.", "secondary");
            return phase("cancelled");
        }
        set("ws", {send: JSON.stringify({type: "cancel"})});
        status("Cancelling: the service stops after the current epoch…", "warning");
        return phase("cancelling");
    }

    function closeSocket() {
        set("ws", {url: null, send: null});
    }

    // The socket ---------------------------------------------------------------------------------

    function socketState(state, config) {
        const noUpdate = window.dash_clientside.no_update;
        if (!state) return noUpdate;
        if (state.readyState === 1 && job.phase === "connecting" && job.message) {
            job.opened = true;
            set("ws", {send: job.message});
            job.message = null;  // the images can be large: keep no second copy
            status("Sending your images…", "info");
            return noUpdate;
        }
        if (state.readyState === 3 && ACTIVE.has(job.phase)) {
            // Messages that arrived just before the close may still be on their way through Dash.
            const watched = job;
            setTimeout(() => {
                if (job !== watched || !ACTIVE.has(job.phase)) return;
                const where = config.socket_url.replace(/\?.*$/, "");
                set("progress-text", {children: job.lastEpoch
                    ? `Stopped after epoch ${job.lastEpoch} of ${job.epochs}.` : "Nothing was painted."});
                status(job.opened
                    ? `The connection to the service dropped before the job finished ` +
                      `(code ${state.code || "none"}). Press Start to try again.`
                    // A browser cannot read why a handshake failed: a refusal (HTTP 403/503)
                    // and a service that is down look the same from here.
                    : `Could not connect to the service at ${where}: it is not running, or the ` +
                      `service refused the connection (check the API key and its allowed ` +
                      `origins, NST_ALLOWED_ORIGINS, or try again if it is busy). ` +
                      `Press Start to try again.`, "danger");
                progressBar({animated: false, striped: false, color: "danger"});
                closeSocket();
                set("job", {data: phase("failed", {reason: "connection"})});
            }, 400);
        }
        return noUpdate;
    }

    function socketMessage(message, config) {
        const noUpdate = window.dash_clientside.no_update;
        if (!message || !ACTIVE.has(job.phase)) return noUpdate;
        let msg;
        try {
            msg = JSON.parse(message.data);
        } catch (error) {
            return noUpdate;
        }
        const handler = HANDLERS[msg.type];
        return handler ? handler(msg, config) : noUpdate;
    }

    function keepToken(token) {
        let tokens = [];
        try {
            tokens = JSON.parse(window.localStorage.getItem("tokens") || "[]") || [];
        } catch (error) {
            tokens = [];
        }
        tokens = [token, ...tokens.filter((kept) => kept !== token)].slice(0, MAX_TOKENS);
        set("tokens", {data: tokens});
    }

    const HANDLERS = {
        accepted(msg) {
            keepToken(msg.resume_token);
            job.id = msg.job_id;
            job.epochs = msg.epochs;
            job.totalSteps = msg.total_steps;
            job.outputSize = msg.output_size;
            job.model = msg.model;
            set("model-info", {children: `model: ${msg.model.backbone} · ${msg.model.weights} weights`});
            progress(0, job.totalSteps, `Epoch 0/${msg.epochs} · step 0/${msg.total_steps} · ` +
                     `${msg.output_size.width}×${msg.output_size.height} px`);
            return queued(msg.position);
        },
        queued(msg) {
            return queued(msg.position);
        },
        frame(msg) {
            if (job.phase === "queued" || job.phase === "connecting") phase("running");
            if (job.phase === "running") status(null);
            set("frame-image", {src: msg.image});
            set("frame-box", {className: "frame-box has-frame"});
            const perStep = msg.step > 0 ? msg.elapsed_s / msg.step : 0;
            const remaining = perStep * (msg.total_steps - msg.step);
            progress(msg.step, msg.total_steps,
                     `Epoch ${msg.epoch}/${msg.epochs} · step ${msg.step}/${msg.total_steps} · ` +
                     `${clock(msg.elapsed_s)} elapsed · ` +
                     (msg.step < msg.total_steps ? `about ${clock(remaining)} left` : "finishing"));
            job.lastEpoch = msg.epoch;
            const history = job.history;
            history.step.push(msg.step);
            for (const name of ["total", "style", "content", "tv"]) history[name].push(msg.losses[name]);
            set("loss-graph", {figure: lossFigure(job.figure, history)});
            return {phase: job.phase, job_id: job.id, epoch: msg.epoch};
        },
        steered(msg) {
            hook("steered", msg);
            set("loss-graph", {figure: lossFigure(job.figure, job.history)});
            return window.dash_clientside.no_update;
        },
        done(msg, config) {
            const url = msg.stored && msg.result ? msg.result.url : msg.image;
            set("frame-image", {src: url});
            set("frame-box", {className: "frame-box has-frame is-final"});
            set("download-button", {href: url, download: `nst-${msg.job_id}.png`});
            set("job-id", {children: msg.job_id});
            set("params-used", {children: paramsText(config)});
            set("storage-note", {children: msg.stored ? "" :
                `Not saved to storage (${msg.storage_error || "unknown reason"}): ` +
                "download it now, it will not be in the gallery."});
            set("result-panel", {className: "result-panel mt-3"});
            if (msg.status === "cancelled") return cancelledWithImage(msg);
            progress(job.totalSteps || 1, job.totalSteps || 1,
                     `Finished in ${clock(msg.elapsed_s)}` +
                     (msg.status === "interrupted" ? " (interrupted by a service restart)" : ""),
                     "success");
            status(msg.stored ? null : "The painting is finished but could not be stored: " +
                   "it is shown here and can still be downloaded.", "warning");
            closeSocket();
            if (msg.stored) set("finished-job", {data: msg.job_id});
            return phase("done", {stored: msg.stored});
        },
        error(msg) {
            closeSocket();
            const stopped = job.lastEpoch
                ? `Stopped after epoch ${job.lastEpoch} of ${job.epochs}.` : "Nothing was painted.";
            set("progress-text", {children: stopped});
            if (msg.code === "cancelled") {
                status("Cancelled. The service stopped the job; press Start for a new one.",
                       "secondary");
                progressBar({animated: false, striped: false, color: "secondary"});
                return phase("cancelled");
            }
            const title = ERROR_TITLES[msg.code] || "The service reported an error";
            status(`${title}: ${msg.message}`, "danger");
            progressBar({animated: false, striped: false, color: "danger"});
            return phase("failed", {code: msg.code});
        },
    };

    function cancelledWithImage(msg) {
        set("progress-text", {children: `Stopped after epoch ${job.lastEpoch || 0} of ${job.epochs}.`});
        progressBar({animated: false, striped: false, color: "secondary"});
        status("Cancelled. The service kept the image it had reached" +
               (msg.stored ? "" : ", shown here (it could not be stored)") +
               "; press Start for a new one.", "secondary");
        closeSocket();
        if (msg.stored) set("finished-job", {data: msg.job_id});
        return phase("cancelled", {stored: msg.stored});
    }

    function queued(position) {
        if (position > 0) {
            status(`In the queue: ${plural(position, "job")} ahead of yours.`,
                   "warning");
            return phase("queued", {position: position});
        }
        status("Painting: the first picture arrives after the first epoch.", "info");
        return phase("running", {position: 0});
    }

    // The view -----------------------------------------------------------------------------------

    function resetView(content, config) {
        set("frame-image", {src: content});
        set("frame-box", {className: "frame-box has-frame is-waiting"});
        set("result-panel", {className: "result-panel mt-3 d-none"});
        set("download-button", {href: null});
        set("loss-graph", {figure: config.loss_figure});
        progress(0, 1, "Waiting for the service…");
    }

    function progressBar(props) {
        set("progress", props);
    }

    function progress(step, total, text, color) {
        const percent = total > 0 ? Math.round((100 * step) / total) : 0;
        const running = color !== "success";
        set("progress", {value: percent, label: percent > 0 ? `${percent}%` : "",
                         color: color || "primary", animated: running, striped: running});
        set("progress-text", {children: text});
    }

    function plural(count, noun) {
        return `${count} ${noun}${count === 1 ? "" : "s"}`;
    }

    function clock(seconds) {
        const total = Math.max(0, Math.round(seconds));
        const minutes = Math.floor(total / 60);
        return `${minutes}:${String(total % 60).padStart(2, "0")}`;
    }

    function lossFigure(empty, history) {
        const base = JSON.parse(JSON.stringify(empty));
        base.layout.annotations = [];
        base.data.forEach((trace) => {
            trace.x = history.step.slice();
            trace.y = history[trace.name].slice();
        });
        hook("lossFigure", base);
        return base;
    }

    function paramsText(config) {
        const p = job.params || {};
        const size = job.outputSize ? `${job.outputSize.width}×${job.outputSize.height} px` : `${p.size} px`;
        const advanced = Object.entries(config.knobs)
            .filter(([, knob]) => knob.control !== "slider")
            .map(([name, knob]) => `${knob.label} ${p[name] === null ? "default" : p[name]}`);
        const model = job.model ? `${job.model.backbone} (${job.model.weights})` : "";
        return [
            `${plural(p.epochs, "epoch")} × ${plural(p.steps_per_epoch, "step")}`, size,
            ...advanced, model,
        ].filter(Boolean).join(" · ");
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        nst: {readUpload, weightLabel, resetAdvanced, start, cancel, socketState, socketMessage},
    });
    window.nstHooks = hooks;
})();
