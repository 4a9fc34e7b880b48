/*
 * The live half of the page, run in the browser by Dash's clientside callbacks.
 *
 * One job at a time: Start opens a fresh WebSocket (the dash-extensions component, id "ws"), sends
 * protocol v2's `start` once the socket is open, and every server message updates the page here,
 * with dash_clientside.set_props, so a frame never makes a round trip through the Dash server.
 * Each job's resume_token is kept in the browser (the "tokens" Store, in localStorage): results
 * are private to their tokens, and the gallery lists the ones this browser holds. The running
 * job's id is in the address (`?job=<id>`) and its token in the "job-tokens" Store, so a reload,
 * or the address opened again in this browser, attaches to the job again.
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
    const ROLE_TITLES = {content: "Photo", style: "Painting"};
    const STATUS_EVERY_MS = 3000;  // the header's dot turns red within a poll and a timeout
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
    const images = {content: false, style: false};  // which slots hold an image
    let missingShown = false;  // the alert says an image is missing: it goes once both are in
    let pageConfig = null;

    const set = (id, props) => window.dash_clientside.set_props(id, props);

    // What other scripts add to a job (paintings.js: several paintings, steering), each called if
    // set: starting(message) before `start` is sent, attached(accepted, config) when a job is
    // followed again after a reload, phase(name), steered(msg), and lossFigure(figure) before the
    // chart is drawn.
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

    // Errors (and a warning that needs the person, `scroll`) are scrolled into view.
    function status(text, color, scroll) {
        if (!text) {
            set("status-alert", {is_open: false});
        } else {
            set("status-alert", {children: text, color: color || "info", is_open: true});
            if (color === "danger" || scroll) {
                setTimeout(() => {
                    const alert = document.getElementById("status-alert");
                    if (alert) alert.scrollIntoView({behavior: "smooth", block: "nearest"});
                }, 50);
            }
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

    // Paints `dataUri` (`size` px) on a canvas with its longer side at `longest`: a photo larger
    // than the job, or a painting larger than any brush scale needs, is sent no larger than used.
    async function downscale(dataUri, size, longest, kind) {
        const scale = longest / Math.max(size.width, size.height);
        const width = Math.max(1, Math.round(size.width * scale));
        const height = Math.max(1, Math.round(size.height * scale));
        const blob = await (await fetch(dataUri)).blob();
        const bitmap = await createImageBitmap(blob, {resizeWidth: width, resizeHeight: height,
                                                      resizeQuality: "high"});
        const canvas = document.createElement("canvas");
        canvas.width = width;
        canvas.height = height;
        canvas.getContext("2d").drawImage(bitmap, 0, 0);
        bitmap.close();
        const data = kind === "PNG" ? canvas.toDataURL("image/png")
            : canvas.toDataURL("image/jpeg", 0.92);
        return {data, width, height};
    }

    async function readUpload(contents, filename, uploadId, previous, config) {
        const noUpdate = window.dash_clientside.no_update;
        const role = uploadId.replace(/-upload$/, "");
        const name = filename || "This file";
        // A rejected file leaves the image already in the slot, and says why beside it.
        const box = previous ? "upload-box has-image is-invalid" : "upload-box is-invalid";
        const rejected = (message) => [noUpdate, noUpdate, noUpdate, message, box];
        if (!contents) return [noUpdate, noUpdate, noUpdate, noUpdate, noUpdate];
        const kind = imageKind(contents);
        if (!kind) {
            return rejected(`${name} is not an image nst can use: choose a PNG, JPEG or WebP file.`);
        }
        let size;
        try {
            size = await imageSize(contents);
        } catch (error) {
            return rejected(`${name} looks like a ${kind} file but cannot be read: it may be damaged.`);
        }
        const longest = config.max_size;
        let data = contents;
        let scaled = "";
        if (Math.max(size.width, size.height) > longest) {
            try {
                const smaller = await downscale(contents, size, longest, kind);
                data = smaller.data;
                scaled = ` → ${smaller.width}×${smaller.height} px`;
            } catch (error) {
                return rejected(`${name} (${size.width}×${size.height} px) is too large for ` +
                                "this browser to scale down: choose a smaller picture.");
            }
        }
        const bytes = base64Bytes(data);
        if (bytes > config.max_image_bytes) {
            return rejected(`${name} is ${formatBytes(bytes)}, over the limit of ` +
                            `${config.max_image_mb} MB: choose a smaller file.`);
        }
        images[role] = true;
        if (missingShown) {
            const missing = missingText();
            status(missing, "warning");
            missingShown = Boolean(missing);
        }
        const info = `${name} · ${size.width}×${size.height} px${scaled} · ` +
                     `${formatBytes(base64Bytes(contents))}`;
        return [data, data, info, "", "upload-box has-image"];
    }

    function missingText() {
        if (!images.content && !images.style) return "Add a photo and a painting first.";
        if (!images.content) return "Add a photo first.";
        return images.style ? null : "Add a painting first.";
    }

    // The photo at the job's size: what the service would scale it to, sent no larger.
    async function fitPhoto(content, longest) {
        const kind = imageKind(content);
        const size = await imageSize(content);
        if (!longest || Math.max(size.width, size.height) <= longest) return content;
        return (await downscale(content, size, longest, kind)).data;
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

    // Checking what was typed --------------------------------------------------------------------
    // A number box holds what the person typed until they change it: a value out of range is
    // marked beside its field with the range, and Start waits, instead of clamping or rounding.

    const TYPED = new Set(["slider", "number"]);

    function numberText(value) {
        return Math.abs(value) >= 1e6 ? value.toExponential().replace("e+", "e") : String(value);
    }

    function rangeText(knob) {
        const what = knob.whole ? "a whole number" : "a number";
        if (knob.maximum === null || knob.maximum === undefined) {
            return `${what} of ${numberText(knob.minimum)} or more`;
        }
        return `${what} from ${numberText(knob.minimum)} to ${numberText(knob.maximum)}`;
    }

    function numberBox(knob) {
        return document.querySelector(`#${knob.dashed} input[type=number]`);
    }

    // What is wrong with the box's text, in one sentence; null when it is fine.
    function fieldProblem(knob, box) {
        const title = knob.label.charAt(0).toUpperCase() + knob.label.slice(1);
        const raw = box.value.trim();
        const must = `${title} must be ${rangeText(knob)}`;
        if (box.validity && box.validity.badInput) return `${must}: what is typed is not a number.`;
        if (raw === "") return knob.default === null ? null : `${must}; it is empty.`;
        const number = Number(raw);
        const outside = !Number.isFinite(number) || (knob.whole && !Number.isInteger(number)) ||
            number < knob.minimum || (knob.maximum !== null && number > knob.maximum);
        return outside ? `${must}, not ${raw}.` : null;
    }

    function markField(knob, problem) {
        const box = numberBox(knob);
        if (box) {
            box.setAttribute("aria-invalid", problem ? "true" : "false");
            box.setAttribute("aria-describedby", `${knob.dashed}-error ${knob.dashed}-help`);
        }
        set(`${knob.dashed}-error`, {children: problem || ""});
    }

    function checkField(knob) {
        const box = numberBox(knob);
        const problem = box ? fieldProblem(knob, box) : null;
        markField(knob, problem);
        return problem;
    }

    // Every typed field checked; the first wrong one is shown (its section opened) and focused.
    function checkFields(config) {
        const wrong = Object.values(config.knobs)
            .filter((knob) => TYPED.has(knob.control))
            .filter((knob) => checkField(knob) !== null);
        if (!wrong.length) return true;
        const first = wrong[0];
        if (first.control !== "slider") set("advanced-settings", {active_item: "item-0"});
        setTimeout(() => {
            const box = numberBox(first);
            if (!box) return;
            box.scrollIntoView({behavior: "smooth", block: "center"});
            box.focus({preventScroll: true});
        }, 350);  // the accordion's opening
        const names = wrong.map((knob) => knob.label).join(", ");
        status(`Start needs ${wrong.length === 1 ? "a valid setting" : "valid settings"}: ` +
               `${names} (marked beside the field).`, "danger");
        return false;
    }

    function knobOfBox(box) {
        const row = box.closest(".control-row");
        if (!row || !pageConfig) return null;
        return Object.values(pageConfig.knobs).find((knob) => knob.dashed === row.id) || null;
    }

    // Typing re-checks the field at once: a message goes as soon as its cause is gone.
    document.addEventListener("input", (event) => {
        const box = event.target;
        if (!(box instanceof HTMLInputElement) || box.type !== "number") return;
        const knob = knobOfBox(box);
        if (knob && TYPED.has(knob.control)) checkField(knob);
    }, true);

    // A run setting's slider and its number box: the slider follows the box only when the box
    // holds a valid number; the box follows the slider always.
    function syncNumber(sliderValue, boxValue, config) {
        const noUpdate = window.dash_clientside.no_update;
        pageConfig = config;
        const triggered = window.dash_clientside.callback_context.triggered[0];
        if (!triggered) return [noUpdate, noUpdate];
        const id = triggered.prop_id.slice(0, triggered.prop_id.lastIndexOf("."));
        if (!id.startsWith("{")) {  // typed into the box `<dashed name>-input`
            const knob = Object.values(config.knobs).find((k) => `${k.dashed}-input` === id);
            const box = knob && numberBox(knob);
            if (!box || fieldProblem(knob, box) !== null) return [noUpdate, noUpdate];
            return [Number(box.value), noUpdate];
        }
        // Dragged: the box takes the slider's (valid) value, so its message goes.
        const knob = config.knobs[JSON.parse(id).name];
        if (knob) markField(knob, null);
        return [noUpdate, sliderValue];
    }

    // Start and cancel ---------------------------------------------------------------------------

    async function start(_clicks, content, style, values, ids, config) {
        const noUpdate = window.dash_clientside.no_update;
        pageConfig = config;
        if (ACTIVE.has(job.phase)) return noUpdate;
        images.content = Boolean(content);
        images.style = Boolean(style);
        if (!content || !style) {
            status(missingText(), "warning", true);
            missingShown = true;
            return noUpdate;
        }
        if (!checkFields(config)) return noUpdate;
        const params = knobSettings(values, ids, config);
        job = {
            phase: "connecting",
            params: params,
            opened: false,
            history: {step: [], total: [], style: [], content: [], tv: []},
            figure: config.loss_figure,
        };
        const starting = job;
        phase("connecting");
        let photo;
        try {
            photo = await fitPhoto(content, params.size);
        } catch (error) {
            photo = content;  // the service scales it down as it decodes
        }
        if (job !== starting) return noUpdate;
        const message = Object.assign({type: "start", content: photo, style}, params);
        hook("starting", message);  // paintings.js: several paintings become `styles`
        job.message = JSON.stringify(message);
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
        status(job.phase === "queued"
            ? "Cancelling: the job leaves the queue at once."
            : "Cancelling: the service stops within one optimisation step and keeps the picture " +
              "reached so far, to download and in the gallery.", "warning");
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

    function stored(key, empty) {
        try {
            return JSON.parse(window.localStorage.getItem(key) || "null") || empty;
        } catch (error) {
            return empty;
        }
    }

    // {job id: {token, params}} of this browser's jobs, newest last, for attach and downloads.
    function jobTokens() {
        return stored("job-tokens", {});
    }

    function keepToken(token, jobId, params) {
        const tokens = stored("tokens", []);
        const others = tokens.filter((kept) => kept !== token);
        set("tokens", {data: [token, ...others].slice(0, MAX_TOKENS)});
        const jobs = jobTokens();
        delete jobs[jobId];
        jobs[jobId] = {token, params: params || null};
        const ids = Object.keys(jobs);
        ids.slice(0, Math.max(0, ids.length - MAX_TOKENS)).forEach((id) => delete jobs[id]);
        set("job-tokens", {data: jobs});
    }

    // The address names the job this page follows, so a reload finds it again.
    function showJobInAddress(jobId) {
        const address = new URL(window.location.href);
        if (jobId) address.searchParams.set("job", jobId); else address.searchParams.delete("job");
        window.history.replaceState(null, "", address.toString());
    }

    // On load: the job in the address, when this browser holds its token, is followed again.
    function resume(config) {
        const noUpdate = window.dash_clientside.no_update;
        pageConfig = config;
        watchService();
        nameControls();
        const jobId = new URLSearchParams(window.location.search).get("job");
        if (!jobId || ACTIVE.has(job.phase)) return noUpdate;
        const kept = jobTokens()[jobId];
        if (!kept) {
            showJobInAddress(null);
            status("The address named a job this browser did not start, so it cannot follow " +
                   "it. Start your own below.", "warning");
            return noUpdate;
        }
        job = {
            phase: "connecting", id: jobId, params: kept.params || {}, opened: false, attached: true,
            message: JSON.stringify({type: "attach", job_id: jobId, resume_token: kept.token}),
            history: {step: [], total: [], style: [], content: [], tv: []},
            figure: config.loss_figure,
        };
        resetView(null, config);
        status("Following your job again…", "info");
        set("ws", {url: config.socket_url});
        return phase("connecting");
    }

    const HANDLERS = {
        accepted(msg, config) {
            keepToken(msg.resume_token, msg.job_id, job.params);
            showJobInAddress(msg.job_id);
            job.params = Object.assign({epochs: msg.epochs, steps_per_epoch: msg.steps_per_epoch},
                                       job.params);
            job.id = msg.job_id;
            job.epochs = msg.epochs;
            job.totalSteps = msg.total_steps;
            job.outputSize = msg.output_size;
            job.model = msg.model;
            set("model-info", {children: `model: ${msg.model.backbone} · ${msg.model.weights} weights`});
            if (job.attached) hook("attached", msg, config);  // paintings.js: its weights now
            progress(0, job.totalSteps, `Epoch 0/${msg.epochs} · step 0/${msg.total_steps} · ` +
                     `${msg.output_size.width}×${msg.output_size.height} px`);
            return queued(msg.position, msg.wait_s);
        },
        queued(msg) {
            return queued(msg.position, msg.wait_s);
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
            job.result = {id: msg.job_id, inline: msg.stored ? null : msg.image};
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
            if (msg.code === "unknown_job" || msg.code === "taken_over") return lostJob(msg.code);
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
            status(`${title}: ${inPageWords(msg.message)}`, "danger");
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

    // The service's field names as the page calls them: "content: ..." is the Photo's problem.
    function inPageWords(message) {
        return message
            .replace(/^content\b/, "Photo")
            .replace(/^styles\.(\d+)\.image\b/, (_, n) => `Painting ${Number(n) + 1}`)
            .replace(/^style\b/, "Painting")
            .replace(/\bthe content image\b/g, "the photo")
            .replace(/\bthe style image\b/g, "the painting");
    }

    function lostJob(code) {
        showJobInAddress(null);
        set("progress-text", {children: ""});
        progressBar({animated: false, striped: false, color: "secondary"});
        status(code === "taken_over"
            ? "Another tab or window follows this job now; this page stopped following it."
            : "The job in the address is no longer running here (it ended a while ago, or the " +
              "service restarted). A stored result is in the gallery below.", "secondary");
        return phase("idle");
    }

    function queued(position, waitS) {
        clearInterval(job.countdown);
        if (position > 0) {
            const until = typeof waitS === "number" ? Date.now() + waitS * 1000 : null;
            const say = () => status(`In the queue: ${plural(position, "job")} ahead of yours` +
                (until === null ? "." : `, about ${clock((until - Date.now()) / 1000)} to wait.`),
                "warning");
            say();
            if (until !== null) {
                const watched = job;
                job.countdown = setInterval(() => {
                    if (job === watched && job.phase === "queued") say();
                    else clearInterval(watched.countdown);
                }, 1000);
            }
            return phase("queued", {position: position});
        }
        status("Painting: the first picture arrives after the first epoch.", "info");
        return phase("running", {position: 0});
    }

    // The view -----------------------------------------------------------------------------------

    function resetView(content, config) {
        set("frame-image", {src: content});
        set("frame-box", {className: content ? "frame-box has-frame is-waiting" : "frame-box"});
        set("result-panel", {className: "result-panel mt-3 d-none"});
        set("painted-how", {children: null});  // web/painted.py fills it once a job is stored
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

    // Downloads ----------------------------------------------------------------------------------
    // The PNG comes from this web app's /download/<id> (same origin, the token in a header), so
    // the browser saves it under the name given here.

    async function saveResult(jobId, inline) {
        let blob;
        try {
            if (inline) {
                blob = await (await fetch(inline)).blob();
            } else {
                const kept = jobTokens()[jobId];
                const answer = await fetch(`/download/${jobId}`,
                                           {headers: {"X-NST-Token": kept ? kept.token : ""}});
                if (!answer.ok) {
                    const body = await answer.json().catch(() => ({}));
                    throw new Error((body.error && body.error.message) || `HTTP ${answer.status}`);
                }
                blob = await answer.blob();
            }
        } catch (error) {
            status(`The download failed: ${error.message}. Try again in a moment.`, "danger");
            return;
        }
        const url = URL.createObjectURL(blob);
        const link = document.createElement("a");
        link.href = url;
        link.download = `nst-${jobId}.png`;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
    }

    async function downloadResult() {
        if (job.result) await saveResult(job.result.id, job.result.inline);
        return window.dash_clientside.no_update;
    }

    async function downloadFromGallery(clicks) {
        const triggered = window.dash_clientside.callback_context.triggered[0];
        if (triggered && triggered.value) {
            const id = JSON.parse(triggered.prop_id.slice(0, triggered.prop_id.lastIndexOf(".")));
            await saveResult(id.index, null);
        }
        return clicks.map(() => window.dash_clientside.no_update);
    }

    // The service's status in the header ---------------------------------------------------------

    let watching = false;
    let shownStatus = "";

    function watchService() {
        if (watching) return;
        watching = true;
        checkService();
        setInterval(checkService, STATUS_EVERY_MS);
    }

    async function checkService() {
        let state;
        try {
            const answer = await fetch("/service-status", {cache: "no-store"});
            state = await answer.json();
        } catch (error) {
            state = {ready: false, model: null, reason: "this page's server does not answer"};
        }
        const model = state.model
            ? `model: ${state.model.backbone} · ${state.model.weights} weights` : "service ready";
        const text = state.ready ? model : `service unavailable: ${state.reason}`;
        if (text === shownStatus) return;
        shownStatus = text;
        set("service-dot", {className: `dot ${state.ready ? "is-up" : "is-down"}`,
                            "aria-label": state.ready ? "service up" : "service down"});
        set("model-info", {children: text});
    }

    // Accessible names ---------------------------------------------------------------------------
    // Sliders, upload inputs and the progress bar are drawn by their libraries without a name:
    // each is named after its field's label, again whenever the library redraws it.

    function nameControls() {
        const name = () => {
            document.querySelectorAll(".control-row").forEach((row) => {
                const label = row.querySelector("label");
                row.querySelectorAll("[role=slider]").forEach((thumb) => {
                    if (label && !thumb.getAttribute("aria-label")) {
                        thumb.setAttribute("aria-label", label.textContent);
                    }
                });
            });
            document.querySelectorAll(".upload").forEach((slot) => {
                const title = slot.querySelector(".upload-title").textContent;
                slot.querySelectorAll("input[type=file]").forEach((input) => {
                    if (!input.getAttribute("aria-label")) {
                        input.setAttribute("aria-label", `${title}: choose an image`);
                    }
                });
            });
            document.querySelectorAll(".progress-bar").forEach((bar) => {
                if (!bar.getAttribute("aria-label")) bar.setAttribute("aria-label", "Progress");
            });
        };
        name();
        new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        nst: {readUpload, weightLabel, resetAdvanced, start, cancel, socketState, socketMessage,
              syncNumber, resume, downloadResult, downloadFromGallery},
    });
    window.nstHooks = hooks;
})();
